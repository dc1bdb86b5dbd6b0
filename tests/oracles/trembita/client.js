// node-soap as a Трембіта caller: node client.js WSDL_URL MESSAGE_FILE HEADERS_XML_FILE [ENDPOINT]
// Loads the WSDL from the URL, calls deliverMessage with the 1207 message (base64Binary) and the
// given X-Road header elements (at ENDPOINT when given, as a caller's security server would), and prints {result, soapHeader, rawResponse} as JSON; a SOAP fault
// is printed as {fault: {faultcode, faultstring}, rawResponse}.
"use strict";
const fs = require("fs");
const soap = require("soap");

async function main() {
  const [wsdlUrl, messageFile, headersFile, endpoint] = process.argv.slice(2);
  const client = await soap.createClientAsync(wsdlUrl);
  if (endpoint) client.setEndpoint(endpoint);
  client.addSoapHeader(fs.readFileSync(headersFile, "utf8"));
  const message = fs.readFileSync(messageFile).toString("base64");
  try {
    const [result, rawResponse, soapHeader] = await client.deliverMessageAsync({ message });
    process.stdout.write(JSON.stringify({ result, soapHeader, rawResponse }));
  } catch (err) {
    if (err.root && err.root.Envelope) {
      const fault = err.root.Envelope.Body.Fault;
      process.stdout.write(JSON.stringify({ fault, rawResponse: err.body }));
      return;
    }
    throw err;
  }
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
