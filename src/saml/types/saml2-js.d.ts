/** The part of saml2-js (CommonJS, no bundled types) that the demo SP uses. */
declare module 'saml2-js' {
  interface ServiceProviderOptions {
    entity_id: string;
    private_key?: string;
    certificate?: string;
    assert_endpoint: string;
    allow_unencrypted_assertion?: boolean;
    audience?: string;
    notbefore_skew?: number;
    nameid_format?: string;
    sign_get_request?: boolean;
  }

  interface IdentityProviderOptions {
    sso_login_url: string;
    sso_logout_url: string;
    certificates: string[];
    allow_unencrypted_assertion?: boolean;
  }

  interface SamlUser {
    name_id?: string;
    session_index?: string;
    attributes?: Record<string, string[]>;
  }

  interface AssertResponse {
    response_header: { version?: string; destination?: string; in_response_to?: string; id?: string };
    type: 'authn_response' | 'logout_response' | 'logout_request';
    user?: SamlUser;
    issuer?: string;
    name_id?: string;
    session_index?: string;
  }

  export class ServiceProvider {
    constructor(options: ServiceProviderOptions);
    create_login_request_url(
      idp: IdentityProvider,
      options: { relay_state?: string; force_authn?: boolean },
      cb: (err: Error | null, loginUrl: string, requestId: string) => void,
    ): void;
    post_assert(
      idp: IdentityProvider,
      options: { request_body: Record<string, unknown>; allow_unencrypted_assertion?: boolean; audience?: string; notbefore_skew?: number },
      cb: (err: Error | null, response: AssertResponse) => void,
    ): void;
    redirect_assert(
      idp: IdentityProvider,
      options: { request_body: Record<string, unknown>; allow_unencrypted_assertion?: boolean },
      cb: (err: Error | null, response: AssertResponse) => void,
    ): void;
    create_logout_request_url(
      idp: IdentityProvider,
      options: { name_id: string; session_index?: string; relay_state?: string },
      cb: (err: Error | null, logoutUrl: string, requestId: string) => void,
    ): void;
    create_logout_response_url(
      idp: IdentityProvider,
      options: { in_response_to: string; relay_state?: string },
      cb: (err: Error | null, responseUrl: string) => void,
    ): void;
  }

  export class IdentityProvider {
    constructor(options: IdentityProviderOptions);
  }

  const saml2: { ServiceProvider: typeof ServiceProvider; IdentityProvider: typeof IdentityProvider };
  export default saml2;
}
