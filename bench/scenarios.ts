/**
 * The load each measured figure puts on the IdP, as autocannon options: what is
 * requested, with which session, how many connections, and the answer expected.
 */
import type { Options } from 'autocannon';
import { authnRequestQuery, jwtPath } from './checks.js';
import { JWT_SPS, LOGIN_USERS, SAML_SPS } from './idp.js';
import { loginBody, loginForm } from './lib.js';

export interface Scenario {
  options: Options;
  expectedStatus: number;
}

/** One target, or several (replicas): autocannon spreads the connections over them in turn. */
export type Bases = string | readonly string[];

function urls(bases: Bases, pathAndQuery: string): string | string[] {
  return typeof bases === 'string' ? `${bases}${pathAndQuery}` : bases.map((b) => `${b}${pathAndQuery}`);
}

/** 1–2. GET /sso/jwt/:sp?redirect_url=… with a signed-in session → 302 carrying the JWT (32 connections). */
export function jwtScenario(bases: Bases, cookie: string, sp: keyof typeof JWT_SPS): Scenario {
  return { options: { url: urls(bases, jwtPath(JWT_SPS[sp])), connections: 32, headers: { cookie } }, expectedStatus: 302 };
}

/** 3. SP-initiated SSO with a session: a fresh AuthnRequest each time (IDs are single-use) → the auto-POST form (8 connections). */
export function samlScenario(base: string, cookie: string, sp: keyof typeof SAML_SPS): Scenario {
  const issuer = SAML_SPS[sp];
  return {
    options: {
      url: `${base}/saml/sso`,
      connections: 8,
      headers: { cookie },
      requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/saml/sso?${authnRequestQuery(issuer).query}` }) }],
    },
    expectedStatus: 200,
  };
}

export interface LoginForm {
  cookie: string;
  csrf: string;
  email: string;
  password: string;
}

/**
 * Login forms opened ahead of the load (each POST /login uses up its session and
 * CSRF token), for the bench's login users in turn.
 */
export async function openLoginForms(base: string, count: number): Promise<LoginForm[]> {
  const forms: LoginForm[] = [];
  let next = 0;
  const workers = Array.from({ length: 8 }, async () => {
    while (next < count) {
      const user = LOGIN_USERS[next % LOGIN_USERS.length]!;
      next += 1;
      forms.push({ ...(await loginForm(base)), ...user });
    }
  });
  await Promise.all(workers);
  // Used from the end: the last opened, for the first user, goes first.
  return forms.reverse();
}

/** 4. POST /login with the default password hashing, each with its own form → 303 (8 connections). */
export function loginScenario(base: string, forms: LoginForm[]): Scenario {
  return {
    options: {
      url: `${base}/login`,
      connections: 8,
      requests: [
        {
          method: 'POST',
          path: '/login',
          setupRequest: (req) => {
            const form = forms.pop();
            if (!form) throw new Error('the login scenario ran out of prepared forms');
            return {
              ...req,
              headers: { cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded' },
              body: loginBody(form.csrf, form.email, form.password),
            };
          },
        },
      ],
    },
    expectedStatus: 303,
  };
}

/**
 * 5. Sign-ins as browsers do them, each on a new session: GET /login (a session
 * and its CSRF token), then POST /login (a new signed-in session). Each connection
 * alternates the two, as its own user (`users[i]` for the i-th connection), so
 * `amount` requests are amount/2 sign-ins. With several bases, the connections
 * are spread over them in turn, each one staying on its replica.
 */
export function signInFlow(bases: Bases, users: readonly { email: string; password: string }[], connections: number): Options {
  let assigned = 0;
  return {
    url: urls(bases, '/login'),
    connections,
    requests: [
      {
        method: 'GET',
        path: '/login',
        onResponse: (_status, body, context, headers) => {
          context.user ??= users[assigned++ % users.length];
          const raw = headers['set-cookie'] ?? headers['Set-Cookie'];
          const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
          context.cookie = list.map((c) => c.split(';')[0]!).find((c) => c.startsWith('mockidp.sid='));
          context.csrf = /name="csrf" value="([^"]*)"/.exec(body)?.[1];
        },
      },
      {
        method: 'POST',
        path: '/login',
        setupRequest: (req, context) => {
          const user = context.user as { email: string; password: string };
          return {
            ...req,
            headers: { cookie: String(context.cookie), 'content-type': 'application/x-www-form-urlencoded' },
            body: loginBody(String(context.csrf), user.email, user.password),
          };
        },
      },
    ],
  };
}
