// A small client of the fake sidecar's HTTP/JSON control API (docs/control-api.md), on Node's built-in fetch.
"use strict";

class ControlApi {
  constructor(baseUrl) {
    if (!baseUrl) throw new Error("no control API URL: set DURABLETASK_CONTROL_URL (the second line of `serve`)");
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  async call(method, path, body) {
    const response = await fetch(this.baseUrl + path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
    return response.headers.get("content-type")?.startsWith("application/json") ? JSON.parse(text) : text;
  }

  reset(options = {}) { return this.call("POST", "/v1/reset", options); }
  advance(seconds) { return this.call("POST", "/v1/clock/advance", { seconds }); }
  addFault(fault) { return this.call("POST", "/v1/faults", fault); }
  faultLog() { return this.call("GET", "/v1/faults/log"); }
  instance(id) { return this.call("GET", `/v1/instances/${encodeURIComponent(id)}`); }
  history(id) { return this.call("GET", `/v1/instances/${encodeURIComponent(id)}/history`); }
  timeline(id) { return this.call("GET", `/v1/instances/${encodeURIComponent(id)}/timeline`); }

  async waitUntilIdle(timeoutSeconds = 10) {
    const { idle } = await this.call("POST", "/v1/wait-until-idle", { timeout: timeoutSeconds });
    if (!idle) throw new Error(`the fake was still busy after ${timeoutSeconds}s (is a worker connected?)`);
  }
}

// HOST:PORT of the sidecar, for the SDK's worker and client.
function sidecarAddress() {
  const address = process.env.DURABLETASK_SIDECAR_ADDRESS;
  if (!address) throw new Error("no sidecar address: set DURABLETASK_SIDECAR_ADDRESS (HOST:PORT, the first line of `serve`)");
  return address;
}

module.exports = { ControlApi, sidecarAddress };
