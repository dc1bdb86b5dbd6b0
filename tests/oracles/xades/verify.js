// Verifies XAdES signatures with xadesjs (a second, independent implementation) and prints JSON:
// {"signatures": [{"ok": bool, "signingTime": ..., "signingCertificateV2": n, "unsignedProperties": {...}}]}.
// usage: node verify.js SIGNATURE.xml [DETACHED_FILE...]   (detached files are matched by name)
"use strict";
const nodeCrypto = require("crypto");
const fs = require("fs");
const path = require("path");
const xmldom = require("@xmldom/xmldom");
const xpath = require("xpath");
const { Crypto } = require("@peculiar/webcrypto");
const xmlcore = require("xml-core");
const xadesjs = require("xadesjs");

xmlcore.setNodeDependencies({
  XMLSerializer: xmldom.XMLSerializer,
  DOMParser: xmldom.DOMParser,
  DOMImplementation: xmldom.DOMImplementation,
  xpath,
});
const webcrypto = new Crypto();
xadesjs.Application.setEngine("NodeJS", webcrypto);

const DS = "http://www.w3.org/2000/09/xmldsig#";
const HASHES = {
  "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
  "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
  "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
};

const CURVES = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };

// xmldsigjs cannot read the curve of an EC certificate with this pkijs: import the key of the
// certificate that SigningCertificateV2 names ourselves (RSA keys are left to xmldsigjs).
async function ecKeyOf(signed) {
  const cert = signingCertificate(signed);
  if (!cert) return undefined;
  const x509 = new nodeCrypto.X509Certificate(Buffer.from(cert.GetRaw()));
  const details = x509.publicKey.asymmetricKeyDetails || {};
  if (x509.publicKey.asymmetricKeyType !== "ec") return undefined;
  const spki = x509.publicKey.export({ type: "spki", format: "der" });
  const namedCurve = CURVES[details.namedCurve];
  if (signed.Algorithm) signed.Algorithm = { ...signed.Algorithm, namedCurve };
  return webcrypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve }, true, ["verify"]);
}

// xadesjs checks only the v1 SigningCertificate; SigningCertificateV2 is checked here on its
// parsed objects: the digest must be that of a certificate in KeyInfo.
function signingCertificate(signed) {
  const ssp = signed.SignedProperties.SignedSignatureProperties;
  if (ssp.SigningCertificateV2.Count !== 1) return null;
  const ref = ssp.SigningCertificateV2.Item(0);
  const hash = HASHES[ref.CertDigest.DigestMethod.Algorithm];
  if (!hash) return null;
  const expected = Buffer.from(ref.CertDigest.DigestValue).toString("base64");
  const keyInfo = signed.XmlSignature.KeyInfo;
  for (let i = 0; i < keyInfo.Count; i++) {
    const item = keyInfo.Item(i);
    for (const cert of item.Certificates || []) {
      const digest = nodeCrypto.createHash(hash).update(cert.GetRaw()).digest("base64");
      if (digest === expected) return cert;
    }
  }
  return null;
}

async function main() {
  const [file, ...detached] = process.argv.slice(2);
  const files = Object.fromEntries(detached.map((p) => [path.basename(p), fs.readFileSync(p)]));
  const doc = new xmldom.DOMParser().parseFromString(fs.readFileSync(file, "utf8"), "application/xml");
  const nodes = doc.getElementsByTagNameNS(DS, "Signature");
  const signatures = [];
  for (let i = 0; i < nodes.length; i++) {
    const signed = new xadesjs.SignedXml(doc);
    signed.LoadXml(nodes[i]);
    signed.contentHandler = async (reference) => {
      const uri = reference.Uri;
      if (uri && !uri.startsWith("#")) {
        const data = files[path.basename(decodeURIComponent(uri))];
        return data ? new Uint8Array(data) : null;
      }
      return null;
    };
    let ok = false;
    let error = null;
    try {
      const key = await ecKeyOf(signed);
      ok = key ? await signed.Verify(key) : await signed.Verify();
    } catch (e) {
      error = String(e && e.message ? e.message : e);
    }
    const props = signed.SignedProperties;
    const ssp = props.SignedSignatureProperties;
    const unsigned = signed.UnsignedProperties.UnsignedSignatureProperties;
    const signingCertificateOk = signingCertificate(signed) !== null;
    const kinds = {};
    let certificates = 0;
    for (let j = 0; j < unsigned.Count; j++) {
      const item = unsigned.Item(j);
      const kind = item.constructor.name;
      kinds[kind] = (kinds[kind] || 0) + 1;
      if (kind === "CertificateValues") certificates += item.EncapsulatedX509Certificates.Count;
    }
    signatures.push({
      ok,
      error,
      signingTime: ssp.SigningTime.Value ? ssp.SigningTime.Value.toISOString() : null,
      signingCertificateV2: ssp.SigningCertificateV2.Count,
      signingCertificateOk,
      dataObjectFormats: props.SignedDataObjectProperties.DataObjectFormats.Count,
      unsignedProperties: kinds,
      certificateValues: certificates,
    });
  }
  process.stdout.write(JSON.stringify({ signatures }) + "\n");
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
  process.exit(2);
});
