/**
 * `privacy-engine/express`: the Express router and admin dashboard arrive with their own issue.
 * The subpath exists now so that the package's export map, build and packaging are tested from the start.
 */
export const EXPRESS_ROUTER_AVAILABLE = false as const;
