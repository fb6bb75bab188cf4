import type { Principal } from './auth.js';

/** What an action of a route gets. */
export interface Context {
  request: Request;
  url: URL;
  /** The base of URLs in answers. */
  base: URL;
  params: string[];
  principal: Principal;
  /** How the caller signed in: a credential header, or a studio session cookie. */
  via: 'token' | 'session';
}

export type Action = (context: Context) => Promise<Response> | Response;

export interface Route {
  pattern: RegExp;
  methods: Partial<Record<'GET' | 'POST', Action>>;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}
