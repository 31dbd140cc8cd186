#!/usr/bin/python3
"""The OneLogin SAML toolkit (python3-onelogin-saml2, from Debian) acting as a SAML SP.

Reads one JSON object on stdin, prints one JSON object on stdout. It only drives
the toolkit: every check is the toolkit's own, in strict mode when the settings say so.

Input: {"action": ..., "settings": {...OneLogin settings...}, "idp_metadata": "<xml>"?, ...}
  - idp_metadata: when given, the toolkit parses it and its IdP data (entity ID,
    endpoints, certificate) replace settings["idp"]. The parser also sets the SP's
    NameIDFormat to the IdP's first one; "sp_overrides" (SP settings applied after the
    merge) is how an SP keeps its own, e.g. transient.
Actions:
  - parse_metadata: {} -> {"idp": {...parsed IdP settings...}, "sp": {"NameIDFormat"}?}: what the
        toolkit would configure itself with (its SP NameIDFormat is the IdP's first NameIDFormat)
  - login: {binding: "redirect"|"post", relay_state, force_authn?, is_passive?}
        -> {"request_id", "request_xml", "url"?, "saml_request"?, "relay_state"}
  - process_response: {request_data, request_id?} -> {"errors", "reason", "authenticated",
        "nameid", "nameid_format", "nameid_nq", "nameid_spnq", "attributes", "session_index",
        "assertion_id", "message_id"}
  - logout: {name_id, session_index?, name_id_format?, nq?, spnq?, relay_state} -> {"request_id", "url"}
        (the NameID as the SP received it: its Format, NameQualifier and SPNameQualifier)
  - process_slo: {request_data, request_id?} -> {"errors", "reason", "url"}
  - validate_schema: {xml, schema} -> {"valid", "errors"}: the toolkit's own XSD check
        (schema e.g. "saml-schema-protocol-2.0.xsd"), with the validator's messages.
"""
import json
import os
import sys
import warnings

warnings.simplefilter('ignore')

import onelogin.saml2  # noqa: E402
from onelogin.saml2.auth import OneLogin_Saml2_Auth  # noqa: E402
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request  # noqa: E402
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser  # noqa: E402
from onelogin.saml2.settings import OneLogin_Saml2_Settings  # noqa: E402
from onelogin.saml2.utils import OneLogin_Saml2_Utils  # noqa: E402
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML  # noqa: E402
from lxml import etree  # noqa: E402


def settings_of(data):
    settings = data['settings']
    if data.get('idp_metadata'):
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(data['idp_metadata'])
        settings = OneLogin_Saml2_IdPMetadataParser.merge_settings(settings, parsed)
    if data.get('sp_overrides'):
        settings = dict(settings, sp=dict(settings['sp'], **data['sp_overrides']))
    return settings


def default_request_data():
    return {'https': 'off', 'http_host': 'sp.invalid', 'script_name': '/', 'get_data': {}, 'post_data': {}}


def main():
    data = json.load(sys.stdin)
    action = data['action']
    out = {}
    if action == 'parse_metadata':
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(data['idp_metadata'])
        out['idp'] = parsed['idp']
        if 'sp' in parsed:
            out['sp'] = parsed['sp']
    elif action == 'login':
        settings = settings_of(data)
        force = bool(data.get('force_authn', False))
        passive = bool(data.get('is_passive', False))
        if data['binding'] == 'redirect':
            auth = OneLogin_Saml2_Auth(default_request_data(), settings)
            out['url'] = auth.login(return_to=data['relay_state'], force_authn=force, is_passive=passive)
            out['request_id'] = auth.get_last_request_id()
            out['request_xml'] = auth.get_last_request_xml()
        else:
            s = OneLogin_Saml2_Settings(settings)
            request = OneLogin_Saml2_Authn_Request(s, force, passive)
            xml = request.get_xml()
            security = s.get_security_data()
            if security.get('authnRequestsSigned'):
                xml = OneLogin_Saml2_Utils.add_sign(
                    xml, s.get_sp_key(), s.get_sp_cert(),
                    sign_algorithm=security['signatureAlgorithm'],
                    digest_algorithm=security['digestAlgorithm'])
                if isinstance(xml, bytes):
                    xml = xml.decode('utf-8')
            out['request_id'] = request.get_id()
            out['request_xml'] = xml
            out['saml_request'] = OneLogin_Saml2_Utils.b64encode(xml)
        out['relay_state'] = data['relay_state']
    elif action == 'process_response':
        auth = OneLogin_Saml2_Auth(data['request_data'], settings_of(data))
        auth.process_response(request_id=data.get('request_id'))
        out = {
            'errors': auth.get_errors(),
            'reason': auth.get_last_error_reason(),
            'authenticated': bool(auth.is_authenticated()),
            'nameid': auth.get_nameid(),
            'nameid_format': auth.get_nameid_format(),
            'nameid_nq': auth.get_nameid_nq(),
            'nameid_spnq': auth.get_nameid_spnq(),
            'attributes': auth.get_attributes(),
            'session_index': auth.get_session_index(),
            'assertion_id': auth.get_last_assertion_id(),
            'message_id': auth.get_last_message_id(),
        }
    elif action == 'logout':
        auth = OneLogin_Saml2_Auth(default_request_data(), settings_of(data))
        out['url'] = auth.logout(return_to=data['relay_state'], name_id=data['name_id'],
                                 session_index=data.get('session_index'), nq=data.get('nq'),
                                 name_id_format=data.get('name_id_format'), spnq=data.get('spnq'))
        out['request_id'] = auth.get_last_request_id()
    elif action == 'process_slo':
        auth = OneLogin_Saml2_Auth(data['request_data'], settings_of(data))
        url = auth.process_slo(keep_local_session=True, request_id=data.get('request_id'))
        out = {'errors': auth.get_errors(), 'reason': auth.get_last_error_reason(), 'url': url}
    elif action == 'validate_schema':
        schema_file = os.path.join(os.path.dirname(onelogin.saml2.__file__), 'schemas', data['schema'])
        with open(schema_file, 'rb') as f:
            schema = etree.XMLSchema(etree.parse(f))
        document = OneLogin_Saml2_XML.to_etree(data['xml'])
        valid = schema.validate(document)
        out = {'valid': bool(valid), 'errors': [e.message for e in schema.error_log]}
    else:
        raise SystemExit('unknown action: %s' % action)
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
