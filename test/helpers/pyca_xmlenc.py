"""
An independent XML Encryption 1.1 decrypter for the tests, on pyca/cryptography
(OpenSSL) and lxml: xmlsec1 1.2 and the OneLogin toolkit (libxmlsec1 1.2) know
xmlenc#rsa-oaep-mgf1p but not xmlenc11#rsa-oaep, so this reads the EncryptedKey's
EncryptionMethod, DigestMethod and xenc11:MGF itself and decrypts with exactly
what they name. Only what the IdP writes is supported: AES-GCM data (IV first,
tag last), an RSA-OAEP EncryptedKey in the EncryptedData's KeyInfo.

Input (JSON on stdin): {"xml": "<...EncryptedData...>", "private_key_pem": "..."}
Output (JSON): {"data", "key_transport", "digest", "mgf", "plaintext"}; exit 1 with
the reason on stderr when it cannot decrypt.
"""
import base64
import json
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree

NS = {
    'xenc': 'http://www.w3.org/2001/04/xmlenc#',
    'xenc11': 'http://www.w3.org/2009/xmlenc11#',
    'ds': 'http://www.w3.org/2000/09/xmldsig#',
}
RSA_OAEP_MGF1P = 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p'
RSA_OAEP_11 = 'http://www.w3.org/2009/xmlenc11#rsa-oaep'
DIGESTS = {
    'http://www.w3.org/2000/09/xmldsig#sha1': hashes.SHA1,
    'http://www.w3.org/2001/04/xmlenc#sha256': hashes.SHA256,
    'http://www.w3.org/2001/04/xmlenc#sha512': hashes.SHA512,
}
MGFS = {
    'http://www.w3.org/2009/xmlenc11#mgf1sha1': hashes.SHA1,
    'http://www.w3.org/2009/xmlenc11#mgf1sha256': hashes.SHA256,
    'http://www.w3.org/2009/xmlenc11#mgf1sha512': hashes.SHA512,
}
GCM = {'http://www.w3.org/2009/xmlenc11#aes128-gcm': 16, 'http://www.w3.org/2009/xmlenc11#aes256-gcm': 32}


def fail(reason):
    sys.stderr.write(reason + '\n')
    sys.exit(1)


def one(parent, path):
    found = parent.findall(path, NS)
    if len(found) != 1:
        fail('expected one %s, found %d' % (path, len(found)))
    return found[0]


def main():
    data = json.load(sys.stdin)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(data['xml'].encode('utf-8'), parser)
    encrypted_data = root if root.tag == '{%s}EncryptedData' % NS['xenc'] else one(root, './/xenc:EncryptedData')
    data_alg = one(encrypted_data, 'xenc:EncryptionMethod').get('Algorithm')
    if data_alg not in GCM:
        fail('data algorithm not supported: %s' % data_alg)
    encrypted_key = one(encrypted_data, 'ds:KeyInfo/xenc:EncryptedKey')
    method = one(encrypted_key, 'xenc:EncryptionMethod')
    key_alg = method.get('Algorithm')
    digest_el = method.find('ds:DigestMethod', NS)
    mgf_el = method.find('xenc11:MGF', NS)
    digest_uri = digest_el.get('Algorithm') if digest_el is not None else None
    mgf_uri = mgf_el.get('Algorithm') if mgf_el is not None else None
    if key_alg == RSA_OAEP_MGF1P:
        if mgf_el is not None:
            fail('rsa-oaep-mgf1p must not name an MGF (XML Encryption 1.1 5.5.2)')
        mgf_hash = hashes.SHA1
    elif key_alg == RSA_OAEP_11:
        if mgf_uri is not None and mgf_uri not in MGFS:
            fail('MGF not supported: %s' % mgf_uri)
        mgf_hash = MGFS[mgf_uri] if mgf_uri is not None else hashes.SHA1
    else:
        fail('key transport not supported: %s' % key_alg)
    if digest_uri is not None and digest_uri not in DIGESTS:
        fail('digest not supported: %s' % digest_uri)
    digest_hash = DIGESTS[digest_uri] if digest_uri is not None else hashes.SHA1

    private_key = serialization.load_pem_private_key(data['private_key_pem'].encode('ascii'), password=None)
    wrapped = base64.b64decode(one(encrypted_key, 'xenc:CipherData/xenc:CipherValue').text)
    try:
        key = private_key.decrypt(wrapped, padding.OAEP(mgf=padding.MGF1(mgf_hash()), algorithm=digest_hash(), label=None))
    except ValueError:
        fail('the EncryptedKey does not decrypt with RSA-OAEP, %s digest and MGF1-%s' % (digest_hash.name, mgf_hash.name))
    if len(key) != GCM[data_alg]:
        fail('the key is %d bytes, %s needs %d' % (len(key), data_alg, GCM[data_alg]))
    sealed = base64.b64decode(one(encrypted_data, 'xenc:CipherData/xenc:CipherValue').text)
    # XML Encryption 1.1 5.2.4: the 96-bit IV, then the ciphertext, then the 128-bit tag.
    plaintext = AESGCM(key).decrypt(sealed[:12], sealed[12:], None)
    json.dump({'data': data_alg, 'key_transport': key_alg, 'digest': digest_uri, 'mgf': mgf_uri, 'plaintext': plaintext.decode('utf-8')}, sys.stdout)


main()
