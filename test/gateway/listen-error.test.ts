import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatAddress, ListenError } from "../../gateway/listen-error.js";

function systemError(code: string, message = `listen ${code}`): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

describe("ListenError", () => {
  const cases: [code: string, fix: RegExp][] = [
    [
      "EADDRINUSE",
      /already in use \(EADDRINUSE\); stop the other listener or change spec\.notificationSources\[2\]\.tcpSocket\.port/,
    ],
    ["EACCES", /permission denied \(EACCES\).*CAP_NET_BIND_SERVICE/],
    [
      "EADDRNOTAVAIL",
      /not assigned to this host \(EADDRNOTAVAIL\); change spec\.notificationSources\[2\]\.tcpSocket\.host/,
    ],
    ["ENOTFOUND", /cannot be resolved \(ENOTFOUND\)/],
    ["EOTHER", /listen EOTHER; check spec\.notificationSources\[2\]\.tcpSocket\.host and/],
  ];
  for (const [code, fix] of cases) {
    test(`message for ${code}`, () => {
      const cause = systemError(code);
      const error = new ListenError("10.0.0.1", 8000, "vault", 2, cause);
      assert.match(
        error.message,
        /^cannot listen on 10\.0\.0\.1:8000 for Config "vault" source 2: /,
      );
      assert.match(error.message, fix);
      assert.equal(error.code, code);
      assert.equal(error.cause, cause);
    });
  }

  test("IPv6 address in brackets", () => {
    assert.equal(formatAddress("::1", 8000), "[::1]:8000");
  });
});
