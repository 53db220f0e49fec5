/** A small GraphQL client for Vendure's Shop and Admin APIs with bearer-token sessions (authOptions.tokenMethod 'bearer'). */
export const baseUrl = `http://127.0.0.1:${process.env.PORT ?? '3055'}`;

export class GraphqlError extends Error {
  constructor(
    message: string,
    readonly errors: unknown[],
  ) {
    super(message);
  }
}

export class VendureClient {
  /** The session token Vendure returned last (it sends one with the first response of a new session). */
  token: string | undefined;
  /** The channel to work in (Vendure's `vendure-token` header); the default channel when unset. */
  channelToken: string | undefined;

  constructor(private readonly api: 'shop-api' | 'admin-api') {}

  async query<T = Record<string, any>>(document: string, variables: Record<string, unknown> = {}): Promise<T> {
    const response = await fetch(`${baseUrl}/${this.api}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(this.channelToken ? { 'vendure-token': this.channelToken } : {}),
      },
      body: JSON.stringify({ query: document, variables }),
    });
    const token = response.headers.get('vendure-auth-token');
    if (token) this.token = token;
    const body = (await response.json()) as { data?: T; errors?: Array<{ message: string }> };
    if (body.errors?.length) throw new GraphqlError(`${this.api}: ${body.errors.map((e) => e.message).join('; ')}`, body.errors);
    if (!response.ok || !body.data) throw new Error(`${this.api}: HTTP ${response.status}`);
    return body.data;
  }

  /** Vendure's login mutation (the same on both APIs); returns the result's __typename (CurrentUser or an error result). */
  async login(username: string, password: string): Promise<{ typename: string; result: Record<string, any> }> {
    this.token = undefined;
    const data = await this.query(
      `mutation ($username: String!, $password: String!) {
        login(username: $username, password: $password) {
          __typename
          ... on CurrentUser { id identifier }
          ... on ErrorResult { errorCode message }
        }
      }`,
      { username, password },
    );
    return { typename: data.login.__typename, result: data.login };
  }

  /** GET a REST path of the server with this client's session (the plugin's export download). */
  async get(path: string): Promise<Response> {
    return fetch(`${baseUrl}${path}`, { headers: this.token ? { authorization: `Bearer ${this.token}` } : {} });
  }
}

/** Unwraps a Vendure union result: throws when it is an ErrorResult. */
export function ok<T extends { __typename?: string; errorCode?: string; message?: string }>(result: T, what: string): T {
  if (result && result.errorCode) throw new Error(`${what}: ${result.errorCode} ${result.message ?? ''}`);
  return result;
}
