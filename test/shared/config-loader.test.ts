import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadConfigFile, loadConfigFiles, parseConfigText } from "../../shared/config-loader.js";
import { ConfigError, ConfigUnreadableError, ErrorCode } from "../../shared/errors.js";
import { fixturePath } from "../support/fixtures.js";

const HEADER = `apiVersion: reloader.external-secrets.io/v1alpha1
kind: Config
metadata:
  name: sample
`;

/** A Config whose only source has a type this gateway does not serve. */
const UNSUPPORTED_SOURCE_CONFIG = `${HEADER}spec:
  notificationSources:
    - type: AwsSqs
  destinationsToWatch:
    - externalSecret: {}
`;

/** Parses `text` and returns the problems of the ConfigError it must raise. */
function problemsOf(text: string): string[] {
  try {
    parseConfigText(text, "inline.yaml");
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.code, ErrorCode.ConfigInvalid);
    return error.problems.map((problem) => `${problem.path}: ${problem.message}`);
  }
  assert.fail("expected the config to be rejected");
}

describe("config loader", () => {
  it("loads the default case with its values", async () => {
    const [config] = await loadConfigFile(fixturePath("config-default.yaml"));
    assert.ok(config);
    assert.equal(config.name, "tcp-default");
    assert.deepEqual(config.sources, [
      {
        type: "TCPSocket",
        index: 0,
        host: "0.0.0.0",
        port: 8000,
        identifierPathOnPayload: "0.data.ObjectName",
        maxMessageBytes: 1024 * 1024,
        maxIdentifiersPerMessage: 1000,
      },
    ]);
    assert.deepEqual(config.destinations, [{ labelSelectors: { matchLabels: {} } }]);
    assert.ok(Object.isFrozen(config));
  });

  it("applies defaults to an empty tcpSocket", () => {
    const text = `${HEADER}spec:
  notificationSources:
    - type: TCPSocket
      tcpSocket: {}
  destinationsToWatch:
    - externalSecret: {}
`;
    const [config] = parseConfigText(text, "inline.yaml");
    const source = config?.sources[0];
    assert.ok(source?.type === "TCPSocket");
    assert.equal(source.host, "0.0.0.0");
    assert.equal(source.port, 8000);
    assert.equal(source.identifierPathOnPayload, "0.data.ObjectName");
  });

  it("loads selectors of the selective case", async () => {
    const [config] = await loadConfigFile(fixturePath("config-selective.yaml"));
    const destination = config?.destinations[0];
    assert.equal(config?.sources[0]?.host, "127.0.0.1");
    assert.equal(destination?.namespaceSelectors?.length, 2);
    assert.equal(destination?.labelSelectors?.matchExpressions?.[1]?.operator, "DoesNotExist");
  });

  it("names a non-integer port by field path", () => {
    const problems = problemsOf(`${HEADER}spec:
  notificationSources:
    - type: TCPSocket
      tcpSocket: {port: 80a}
  destinationsToWatch:
    - externalSecret: {}
`);
    assert.deepEqual(problems, [
      'spec.notificationSources[0].tcpSocket.port: must be an integer from 1 to 65535, got "80a"',
    ]);
  });

  it("lists every problem at once", () => {
    const problems = problemsOf(`${HEADER}spec:
  notificationSources:
    - type: TCPSocket
      tcpSocket: {port: 70000, identifierPathOnPaylod: x}
  destinationsToWatch:
    - externalSecret:
        labelSelectors:
          matchExpressions:
            - {key: tier, operator: Is, values: [a]}
`);
    const find = (pattern: RegExp) => problems.filter((problem) => pattern.test(problem));
    assert.equal(problems.length, 3, problems.join("\n"));
    assert.equal(find(/^spec\.notificationSources\[0\]\.tcpSocket\.port: .*70000$/).length, 1);
    assert.equal(find(/identifierPathOnPaylod: unknown field; expected one of host/).length, 1);
    assert.equal(
      find(
        /matchExpressions\[0\]\.operator: must be one of In, NotIn, Exists, DoesNotExist, got "Is"$/,
      ).length,
      1,
    );
  });

  it("rejects unsupported source types by name", () => {
    const problems = problemsOf(`${HEADER}spec:
  notificationSources:
    - type: AwsSqs
      awsSqs: {queueURL: x}
    - type: Kafka
  destinationsToWatch:
    - externalSecret: {}
`);
    assert.match(problems[0] ?? "", /\[0\]\.type: source type "AwsSqs" is not supported/);
    assert.match(problems[1] ?? "", /\[1\]\.type: unknown source type "Kafka"; expected one of/);
  });

  it("rejects a Deployment destination", () => {
    const problems = problemsOf(`${HEADER}spec:
  notificationSources:
    - type: TCPSocket
  destinationsToWatch:
    - type: Deployment
      deployment: {}
`);
    assert.match(
      problems[0] ?? "",
      /destinationsToWatch\[0\]\.type: destination type "Deployment"/,
    );
  });

  it("rejects In without values", () => {
    const problems = problemsOf(`${HEADER}spec:
  notificationSources:
    - type: TCPSocket
  destinationsToWatch:
    - externalSecret:
        namespaceSelectors:
          - matchExpressions: [{key: team, operator: In}]
          - matchExpressions: [{key: team, operator: Exists, values: [x]}]
`);
    assert.deepEqual(problems, [
      "spec.destinationsToWatch[0].externalSecret.namespaceSelectors[0].matchExpressions[0].values: must not be empty for In",
      "spec.destinationsToWatch[0].externalSecret.namespaceSelectors[1].matchExpressions[0].values: must be empty for Exists",
    ]);
  });

  it("rejects an unsupported identifier path", () => {
    const problems = problemsOf(`${HEADER}spec:
  notificationSources:
    - type: TCPSocket
      tcpSocket: {identifierPathOnPayload: "data|@reverse"}
  destinationsToWatch:
    - externalSecret: {}
`);
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? "", /tcpSocket\.identifierPathOnPayload: invalid identifier path/);
  });

  it("rejects a wrong kind and missing spec", () => {
    const problems = problemsOf(`apiVersion: v1
kind: ConfigMap
metadata: {name: x}
`);
    assert.ok(
      problems.includes('apiVersion: must be "reloader.external-secrets.io/v1alpha1", got "v1"'),
    );
    assert.ok(problems.includes('kind: must be "Config", got "ConfigMap"'));
    assert.ok(problems.includes("spec: is required"));
  });

  it("reports YAML syntax errors", () => {
    const problems = problemsOf("spec: [unclosed\n");
    assert.match(problems[0] ?? "", /^\(yaml\): /);
  });

  it("rejects two sources on one port", () => {
    const source = (host: string) => `    - type: TCPSocket
      tcpSocket: {host: ${host}, port: 9000}
`;
    const problems = problemsOf(`${HEADER}spec:
  notificationSources:
${source("0.0.0.0")}${source("127.0.0.1")}  destinationsToWatch:
    - externalSecret: {}
`);
    assert.match(problems[0] ?? "", /127\.0\.0\.1:9000 collides with 0\.0\.0\.0:9000/);
  });

  it("rejects duplicate names across files", async () => {
    const configs = await loadConfigFiles([fixturePath("config-default.yaml")]);
    assert.equal(configs.length, 1);
    await assert.rejects(
      loadConfigFiles([fixturePath("config-default.yaml"), fixturePath("config-default.yaml")]),
      /Config "tcp-default" is defined twice/,
    );
  });

  it("lists problems of every entry", () => {
    const problems = problemsOf(`${HEADER}spec:
  notificationSources:
    - type: TCPSocket
      tcpSocket: {port: 9001, identifierPathOnPayload: "a|b"}
    - type: Webhook
      webhook: {address: "8090"}
    - type: TCPSocket
      tcpSocket: {port: -1}
  destinationsToWatch:
    - type: Deployment
    - externalSecret:
        labelSelectors:
          matchExpressions: [{key: a, operator: In}]
`);
    const paths = problems.map((problem) => problem.slice(0, problem.indexOf(": ")));
    assert.deepEqual(paths.sort(), [
      "spec.destinationsToWatch[0].type",
      "spec.destinationsToWatch[1].externalSecret.labelSelectors.matchExpressions[0].values",
      "spec.notificationSources[0].tcpSocket.identifierPathOnPayload",
      "spec.notificationSources[1].webhook.address",
      "spec.notificationSources[2].tcpSocket.port",
    ]);
  });

  it("stops an alias bomb", () => {
    const aliases = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (const [name, previous] of [
      ["b", "a"],
      ["c", "b"],
      ["d", "c"],
      ["e", "d"],
      ["f", "e"],
    ]) {
      aliases.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(", ")}]`);
    }
    const problems = problemsOf(`${aliases.join("\n")}\n`);
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? "", /^\(yaml\): Excessive alias count/);
  });

  it("lists problems of several files", async () => {
    const directory = await mkdtemp(join(tmpdir(), "config-loader-"));
    const file = join(directory, "config-sqs.yaml");
    await writeFile(file, UNSUPPORTED_SOURCE_CONFIG);
    try {
      await assert.rejects(
        loadConfigFiles([file, "/nonexistent/config.yaml"]),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          const paths = error.problems.map((problem) => problem.path);
          assert.equal(paths.length, 2);
          assert.match(paths[0] ?? "", /config-sqs\.yaml: spec\.notificationSources\[0\]\.type$/);
          assert.equal(paths[1], "/nonexistent/config.yaml: (file)");
          return true;
        },
      );
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it("names a missing file", async () => {
    await assert.rejects(loadConfigFile("/nonexistent/config.yaml"), (error: unknown) => {
      assert.ok(error instanceof ConfigUnreadableError);
      assert.equal(error.code, ErrorCode.ConfigUnreadable);
      assert.match(
        error.message,
        /^cannot read config file \/nonexistent\/config\.yaml \(ENOENT\)/,
      );
      return true;
    });
  });
});

describe("config loader for HashicorpVault sources", () => {
  /** Returns a Config text with one HashicorpVault source whose settings are `settings`. */
  const vaultConfig = (settings: string) => `${HEADER}spec:
  notificationSources:
    - type: HashicorpVault
      hashicorpVault: ${settings}
  destinationsToWatch:
    - externalSecret: {}
`;

  it("loads the vault fixture with defaults", async () => {
    const [config] = await loadConfigFile(fixturePath("config-vault.yaml"));
    assert.ok(config);
    assert.equal(config.name, "vault-audit");
    assert.deepEqual(config.sources, [
      {
        type: "HashicorpVault",
        index: 0,
        host: "0.0.0.0",
        port: 8001,
        operations: ["create", "update", "patch"],
        includeNamespace: false,
        maxMessageBytes: 1024 * 1024,
      },
    ]);
  });

  it("applies defaults to an empty hashicorpVault", () => {
    const [config] = parseConfigText(vaultConfig("{}"), "inline.yaml");
    const source = config?.sources[0];
    assert.ok(source?.type === "HashicorpVault");
    assert.equal(source.host, "0.0.0.0");
    assert.equal(source.port, 8000);
    assert.equal(source.prefix, undefined);
    assert.deepEqual(source.operations, ["create", "update", "patch"]);
    assert.equal(source.includeNamespace, false);
    assert.equal(source.maxMessageBytes, 1024 * 1024);
  });

  it("applies defaults without hashicorpVault", () => {
    const text = `${HEADER}spec:
  notificationSources:
    - type: HashicorpVault
  destinationsToWatch:
    - externalSecret: {}
`;
    const [config] = parseConfigText(text, "inline.yaml");
    assert.equal(config?.sources[0]?.type, "HashicorpVault");
    assert.equal(config?.sources[0]?.port, 8000);
  });

  it("loads every hashicorpVault field", () => {
    const settings =
      '{host: 127.0.0.1, port: 9200, prefix: "vault-audit: ", operations: [update],' +
      " includeNamespace: true, maxMessageBytes: 65536}";
    const [config] = parseConfigText(vaultConfig(settings), "inline.yaml");
    assert.deepEqual(config?.sources[0], {
      type: "HashicorpVault",
      index: 0,
      host: "127.0.0.1",
      port: 9200,
      prefix: "vault-audit: ",
      operations: ["update"],
      includeNamespace: true,
      maxMessageBytes: 65536,
    });
  });

  it("names invalid hashicorpVault fields by path", () => {
    const settings =
      '{port: 0, prefix: "", operations: [], includeNamespace: "yes", maxMessageBytes: 10}';
    const problems = problemsOf(vaultConfig(settings));
    const at = "spec.notificationSources[0].hashicorpVault";
    assert.deepEqual(problems.sort(), [
      `${at}.includeNamespace: must be true or false, got "yes"`,
      `${at}.maxMessageBytes: must be an integer from 64 to 67108864, got 10`,
      `${at}.operations: must list at least 1 item(s), got []`,
      `${at}.port: must be an integer from 1 to 65535, got 0`,
      `${at}.prefix: must not be empty, got ""`,
    ]);
  });

  it("rejects an empty operation name", () => {
    const problems = problemsOf(vaultConfig('{operations: [update, ""]}'));
    assert.deepEqual(problems, [
      'spec.notificationSources[0].hashicorpVault.operations[1]: must not be empty, got ""',
    ]);
  });

  it("rejects a prefix with a newline", () => {
    const problems = problemsOf(vaultConfig('{prefix: "a\\nb"}'));
    assert.equal(problems.length, 1);
    assert.match(
      problems[0] ?? "",
      /^spec\.notificationSources\[0\]\.hashicorpVault\.prefix: must match the pattern/,
    );
  });

  it("rejects an unknown hashicorpVault field", () => {
    const problems = problemsOf(vaultConfig("{identifierPathOnPayload: x}"));
    assert.equal(problems.length, 1);
    assert.match(
      problems[0] ?? "",
      /hashicorpVault\.identifierPathOnPayload: unknown field; expected one of host, port, prefix/,
    );
  });

  it("rejects tcpSocket on a HashicorpVault source", () => {
    const text = `${HEADER}spec:
  notificationSources:
    - type: HashicorpVault
      tcpSocket: {}
  destinationsToWatch:
    - externalSecret: {}
`;
    assert.deepEqual(problemsOf(text), [
      "spec.notificationSources[0].tcpSocket: does not belong to a source of type HashicorpVault; remove it or change the type",
    ]);
  });

  it("rejects a vault and a TCP source on one port", () => {
    const problems = problemsOf(`${HEADER}spec:
  notificationSources:
    - type: TCPSocket
      tcpSocket: {host: 0.0.0.0, port: 9000}
    - type: HashicorpVault
      hashicorpVault: {host: 127.0.0.1, port: 9000}
  destinationsToWatch:
    - externalSecret: {}
`);
    assert.equal(problems.length, 1);
    assert.match(
      problems[0] ?? "",
      /^sample spec\.notificationSources\[1\]\.hashicorpVault\.port: listen address 127\.0\.0\.1:9000 collides with 0\.0\.0\.0:9000/,
    );
  });
});

describe("config loader for Webhook sources", () => {
  /** Returns a Config text named `name` whose sources are the YAML list items `sources`. */
  const configWith = (
    sources: string,
    name = "sample",
  ) => `apiVersion: reloader.external-secrets.io/v1alpha1
kind: Config
metadata:
  name: ${name}
spec:
  notificationSources:
${sources}
  destinationsToWatch:
    - externalSecret: {}
`;

  it("applies defaults without webhook", () => {
    const [config] = parseConfigText(configWith("    - type: Webhook"), "inline.yaml");
    assert.deepEqual(config?.sources, [
      {
        type: "Webhook",
        index: 0,
        host: "0.0.0.0",
        port: 8090,
        path: "/webhook",
        identifierPathOnPayload: "0.data.ObjectName",
        maxMessageBytes: 1048576,
        maxIdentifiersPerMessage: 1000,
      },
    ]);
  });

  it("loads every webhook field", () => {
    const [config] = parseConfigText(
      configWith(`    - type: Webhook
      webhook:
        path: /hooks/rotate
        address: "127.0.0.1:9443"
        identifierPathOnPayload: "#.name"
        maxMessageBytes: 4096
        maxIdentifiersPerMessage: 50
        retryPolicy: {maxRetries: 3, algorithm: linear}
        webhookAuth:
          basicAuth:
            usernameSecretRef: {name: hook-auth, namespace: reloader, key: username}
            passwordSecretRef: {name: hook-auth, namespace: reloader, key: password}
    - type: Webhook
      webhook:
        address: "[::1]:9444"
        webhookAuth:
          bearerToken:
            bearerTokenSecretRef: {name: hook-token, key: token}`),
      "inline.yaml",
    );
    assert.deepEqual(config?.sources, [
      {
        type: "Webhook",
        index: 0,
        host: "127.0.0.1",
        port: 9443,
        path: "/hooks/rotate",
        identifierPathOnPayload: "#.name",
        maxMessageBytes: 4096,
        maxIdentifiersPerMessage: 50,
        auth: {
          kind: "basic",
          username: { name: "hook-auth", namespace: "reloader", key: "username" },
          password: { name: "hook-auth", namespace: "reloader", key: "password" },
        },
      },
      {
        type: "Webhook",
        index: 1,
        host: "::1",
        port: 9444,
        path: "/webhook",
        identifierPathOnPayload: "0.data.ObjectName",
        maxMessageBytes: 1048576,
        maxIdentifiersPerMessage: 1000,
        auth: { kind: "bearer", token: { name: "hook-token", key: "token" } },
      },
    ]);
  });

  it("names invalid webhook fields by path", () => {
    const problems = problemsOf(
      configWith(`    - type: Webhook
      webhook:
        path: no-slash
        address: "host:70000"
        identifierPathOnPayload: "a|b"
        webhookAuth:
          basicAuth:
            usernameSecretRef: {name: auth, key: username}
            passwordSecretRef: {name: auth, key: password}
          bearerToken:
            bearerTokenSecretRef: {name: auth, key: token}
    - type: Webhook
      webhook:
        webhookAuth:
          bearerToken:
            bearerTokenSecretRef: {name: auth}`),
    );
    const paths = problems.map((problem) => problem.slice(0, problem.indexOf(": ")));
    assert.deepEqual(paths.sort(), [
      "spec.notificationSources[0].webhook.path",
      "spec.notificationSources[1].webhook.webhookAuth.bearerToken.bearerTokenSecretRef.key",
    ]);
  });

  it("checks address, auth and path once the schema passes", () => {
    const problems = problemsOf(
      configWith(`    - type: Webhook
      webhook:
        address: "host:70000"
        identifierPathOnPayload: "a|b"
        webhookAuth:
          basicAuth:
            usernameSecretRef: {name: auth, key: username}
            passwordSecretRef: {name: auth, key: password}
          bearerToken:
            bearerTokenSecretRef: {name: auth, key: token}`),
    );
    const paths = problems.map((problem) => problem.slice(0, problem.indexOf(": ")));
    assert.deepEqual(paths.sort(), [
      "spec.notificationSources[0].webhook.address",
      "spec.notificationSources[0].webhook.identifierPathOnPayload",
      "spec.notificationSources[0].webhook.webhookAuth",
    ]);
    assert.match(problems.join("\n"), /got "host:70000"/);
    assert.match(problems.join("\n"), /either basicAuth or bearerToken, not both/);
  });

  it("rejects route syntax in a webhook path", () => {
    const problems = problemsOf(
      configWith(`    - type: Webhook
      webhook:
        path: /hooks/:team`),
    );
    assert.equal(problems.length, 1);
    assert.match(
      problems[0] ?? "",
      /^spec\.notificationSources\[0\]\.webhook\.path: must be a literal URL path without ':' or '\*', got "\/hooks\/:team"/,
    );
  });

  it("rejects tcpSocket on a Webhook source", () => {
    const problems = problemsOf(
      configWith(`    - type: Webhook
      tcpSocket: {port: 9000}`),
    );
    assert.match(
      problems[0] ?? "",
      /\[0\]\.tcpSocket: does not belong to a source of type Webhook/,
    );
  });

  it("shares one address across Configs by path", () => {
    const text = [
      configWith(
        `    - type: Webhook
      webhook: {address: ":9000", path: /a}`,
        "team-a",
      ),
      configWith(
        `    - type: Webhook
      webhook: {address: ":9000", path: /b}`,
        "team-b",
      ),
    ].join("---\n");
    const configs = parseConfigText(text, "inline.yaml");
    assert.equal(configs.length, 2);
  });

  it("rejects one path twice on one address", () => {
    const text = [
      configWith(
        `    - type: Webhook
      webhook: {address: ":9000"}`,
        "team-a",
      ),
      configWith(
        `    - type: Webhook
      webhook: {address: ":9000"}`,
        "team-b",
      ),
    ].join("---\n");
    const problems = problemsOf(text);
    assert.equal(problems.length, 1);
    assert.match(
      problems[0] ?? "",
      /^team-b spec\.notificationSources\[0\]\.webhook\.path: path \/webhook on 0\.0\.0\.0:9000 is already served for team-a/,
    );
  });

  it("rejects a webhook on a TCP source's port", () => {
    const problems = problemsOf(
      configWith(`    - type: TCPSocket
      tcpSocket: {port: 9000}
    - type: Webhook
      webhook: {address: "127.0.0.1:9000"}`),
    );
    assert.equal(problems.length, 1);
    assert.match(
      problems[0] ?? "",
      /\[1\]\.webhook\.address: listen address 127\.0\.0\.1:9000 collides with 0\.0\.0\.0:9000/,
    );
  });

  it("rejects webhooks on overlapping hosts of one port", () => {
    const problems = problemsOf(
      configWith(`    - type: Webhook
      webhook: {address: ":9000", path: /a}
    - type: Webhook
      webhook: {address: "127.0.0.1:9000", path: /b}`),
    );
    assert.equal(problems.length, 1);
    assert.match(
      problems[0] ?? "",
      /\[1\]\.webhook\.address: listen address 127\.0\.0\.1:9000 collides/,
    );
  });
});
