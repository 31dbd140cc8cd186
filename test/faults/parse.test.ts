/** The fault catalogue and the `fault=` parser: every name, lists, and every mistake with its message. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IdpError } from '../../src/errors.js';
import { JWT_FAULTS, JWT_FAULT_NAMES, SAML_FAULTS, SAML_FAULT_NAMES, faultCatalog, faultLabel } from '../../src/faults/catalog.js';
import { parseFaults, parseJwtFaults, parseSamlFaults } from '../../src/faults/parse.js';

function refused(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof IdpError, `an IdpError, not ${String(err)}`);
    assert.equal(err.code, 'invalid_fault');
    assert.equal(err.status, 400);
    assert.match(err.message, message);
    return true;
  });
}

describe('the fault catalogue', () => {
  it('describes every JWT and SAML fault in one line with the spec section it violates', () => {
    for (const info of [...faultCatalog('jwt'), ...faultCatalog('saml')]) {
      assert.ok(info.description.length > 20 && !info.description.includes('\n'), `${info.name}: ${info.description}`);
      assert.match(info.violates, /RFC \d+|SAML 2\.0|XML|CVE|OpenID/, `${info.name}: ${info.violates}`);
    }
    assert.deepEqual(Object.keys(JWT_FAULTS), [...JWT_FAULT_NAMES]);
    assert.deepEqual(Object.keys(SAML_FAULTS), [...SAML_FAULT_NAMES]);
    assert.equal(JWT_FAULTS['replayed-jti'].stateful, true);
    assert.equal(SAML_FAULTS['comment-in-nameid'].expectation, 'must-not-be-misled');
    assert.equal(JWT_FAULTS['clock-skew'].takesValue, true);
  });
});

describe('parsing fault= values', () => {
  it('reads every JWT fault by its name, and clock-skew with its seconds', () => {
    for (const name of JWT_FAULT_NAMES) {
      if (name === 'clock-skew') continue;
      assert.deepEqual(parseJwtFaults(name), [{ name }]);
    }
    assert.deepEqual(parseJwtFaults('clock-skew=120'), [{ name: 'clock-skew', seconds: 120 }]);
    assert.deepEqual(parseJwtFaults('clock-skew=-3600'), [{ name: 'clock-skew', seconds: -3600 }]);
    assert.equal(faultLabel({ name: 'clock-skew', seconds: -3600 }), 'clock-skew=-3600');
  });

  it('reads every SAML fault by its name', () => {
    for (const name of SAML_FAULT_NAMES) assert.deepEqual(parseSamlFaults(name), [{ name }]);
  });

  it('reads comma-separated lists and repeated parameters, ignoring case, spaces and empty items', () => {
    assert.deepEqual(parseJwtFaults(' Wrong-Audience , missing-jti,'), [{ name: 'wrong-audience' }, { name: 'missing-jti' }]);
    assert.deepEqual(parseSamlFaults(['wrong-recipient', 'sha1-signature']), [{ name: 'wrong-recipient' }, { name: 'sha1-signature' }]);
    assert.deepEqual(parseFaults('jwt', undefined), []);
    assert.deepEqual(parseFaults('saml', ['', ' ']), []);
  });

  it('refuses an unknown name, suggesting the closest and listing the known ones', () => {
    refused(() => parseJwtFaults('expird'), /^Unknown JWT fault "expird"\. Did you mean "expired"\? The JWT faults are: expired, not-yet-valid, .*clock-skew\.$/);
    refused(() => parseSamlFaults('nonsense'), /^Unknown SAML fault "nonsense"\. The SAML faults are: unsigned, /);
  });

  it("refuses the other protocol's faults, naming the protocol", () => {
    refused(() => parseJwtFaults('wrong-recipient'), /^"wrong-recipient" is a SAML fault, and this is a JWT sign-in\. The JWT faults are: /);
    refused(() => parseSamlFaults('alg-none'), /^"alg-none" is a JWT fault, and this is a SAML sign-in\./);
  });

  it('refuses clock-skew without seconds, with bad or zero seconds, and values on faults that take none', () => {
    refused(() => parseJwtFaults('clock-skew'), /clock-skew needs a number of seconds: clock-skew=120 .* or clock-skew=-120/);
    refused(() => parseJwtFaults('clock-skew=abc'), /clock-skew=abc: the seconds must be a whole number between -31536000 and 31536000\./);
    refused(() => parseJwtFaults('clock-skew=99999999'), /between -31536000 and 31536000/);
    refused(() => parseJwtFaults('clock-skew=1.5'), /whole number/);
    refused(() => parseJwtFaults('clock-skew=0'), /clock-skew=0 changes nothing/);
    refused(() => parseJwtFaults('expired=5'), /^The fault "expired" takes no value \(got "expired=5"\)\.$/);
  });

  it('refuses a fault given twice, faults that change the same thing, and too many faults', () => {
    refused(() => parseJwtFaults('expired,expired'), /^The fault "expired" is given twice\.$/);
    refused(() => parseJwtFaults('expired,clock-skew=30'), /^The faults expired and clock-skew cannot be combined: they all set the token's times\.$/);
    refused(() => parseJwtFaults('alg-none,bad-signature'), /cannot be combined: they all replace the signature/);
    refused(() => parseJwtFaults('missing-jti,replayed-jti'), /cannot be combined: they both decide the jti/);
    refused(() => parseSamlFaults('unsigned,sha1-signature'), /cannot be combined: they all decide how the message is signed/);
    refused(() => parseSamlFaults('signature-wrapping,wrong-audience'), /^The fault "signature-wrapping" cannot be combined with other faults\.$/);
    refused(() => parseJwtFaults('expired,wrong-audience,wrong-issuer,missing-email,missing-jti,bad-signature,alg-none'), /At most 6 faults/);
  });
});
