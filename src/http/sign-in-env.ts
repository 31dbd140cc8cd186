/** The IdP around a sign-in decision, as src/sso/ takes it. */
import type { SignInEnv } from '../sso/types.js';
import type { AppContext } from './context.js';

export function signInEnv(ctx: AppContext): SignInEnv {
  const { config } = ctx;
  return { allowFaults: config.allowFaults, allowLoginHint: config.allowLoginHint, sps: ctx, findUser: (email) => ctx.users.find(email), now: ctx.clock.now(), nameIds: ctx.nameIds };
}
