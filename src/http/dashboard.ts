import { DASHBOARD_ASSETS } from './dashboard-assets.generated.js';

/** The admin dashboard's files, served by the router at `<mount>/dashboard`, `<mount>/dashboard/app.js` and `.../app.css`. */
export interface DashboardAssets {
  'index.html': string;
  'app.js': string;
  'app.css': string;
}

/**
 * The prebuilt dashboard as text. The files live in src/http/dashboard/ and are compiled into the package as strings
 * (scripts/build-dashboard.mjs), so no host needs a build step or a file lookup at run time.
 */
export function dashboardAssets(): DashboardAssets {
  return { 'index.html': DASHBOARD_ASSETS['index.html'], 'app.js': DASHBOARD_ASSETS['app.js'], 'app.css': DASHBOARD_ASSETS['app.css'] };
}
