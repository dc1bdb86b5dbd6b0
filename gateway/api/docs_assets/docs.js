// /docs: ask for the API key, fetch /openapi.json with it, and let Swagger UI send it with every call.
(function () {
  "use strict";
  const form = document.getElementById("key-form");
  const input = document.getElementById("api-key");
  const error = document.getElementById("key-error");
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const key = input.value.trim();
    error.textContent = "";
    const answer = await fetch("/openapi.json", { headers: { Authorization: "Bearer " + key } });
    if (!answer.ok) {
      error.textContent = answer.status === 401 ? "This API key is not valid." : "The API description could not be loaded.";
      return;
    }
    const spec = await answer.json();
    form.hidden = true;
    const ui = SwaggerUIBundle({
      spec: spec,
      dom_id: "#swagger-ui",
      deepLinking: true,
      requestInterceptor: function (request) {
        request.headers.Authorization = "Bearer " + key;
        return request;
      },
    });
    ui.preauthorizeApiKey("HTTPBearer", key);
  });
})();
