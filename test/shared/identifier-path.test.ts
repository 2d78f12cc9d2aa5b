import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DEFAULT_IDENTIFIER_PATH } from "../../shared/config-schema.js";
import { ErrorCode, IdentifierPathError } from "../../shared/errors.js";
import { compileIdentifierPath, type IdentifierPathResult } from "../../shared/identifier-path.js";

/** The example document of gjson's SYNTAX.md. */
const SYNTAX_DOCUMENT = {
  name: { first: "Tom", last: "Anderson" },
  age: 37,
  children: ["Sara", "Alex", "Jack"],
  "fav.movie": "Deer Hunter",
  friends: [
    { first: "Dale", last: "Murphy", age: 44, nets: ["ig", "fb", "tw"] },
    { first: "Roger", last: "Craig", age: 68, nets: ["fb", "tw"] },
    { first: "Jane", last: "Murphy", age: 47, nets: ["ig", "tw"] },
  ],
};

const MISSING: IdentifierPathResult = { kind: "missing" };

function found(...values: unknown[]): IdentifierPathResult {
  return { kind: "found", values };
}

interface EvaluationCase {
  readonly path: string;
  readonly document: unknown;
  readonly expected: IdentifierPathResult;
}

const SYNTAX_CASES: EvaluationCase[] = [
  { path: "name.last", document: SYNTAX_DOCUMENT, expected: found("Anderson") },
  { path: "name.first", document: SYNTAX_DOCUMENT, expected: found("Tom") },
  { path: "age", document: SYNTAX_DOCUMENT, expected: found(37) },
  { path: "children", document: SYNTAX_DOCUMENT, expected: found(["Sara", "Alex", "Jack"]) },
  { path: "children.0", document: SYNTAX_DOCUMENT, expected: found("Sara") },
  { path: "children.1", document: SYNTAX_DOCUMENT, expected: found("Alex") },
  { path: "friends.1.first", document: SYNTAX_DOCUMENT, expected: found("Roger") },
  { path: "child*.2", document: SYNTAX_DOCUMENT, expected: found("Jack") },
  { path: "c?ildren.0", document: SYNTAX_DOCUMENT, expected: found("Sara") },
  { path: "fav\\.movie", document: SYNTAX_DOCUMENT, expected: found("Deer Hunter") },
  { path: "friends.#", document: SYNTAX_DOCUMENT, expected: found(3) },
  { path: "friends.#.age", document: SYNTAX_DOCUMENT, expected: found(44, 68, 47) },
  { path: 'friends.#(last=="Murphy").first', document: SYNTAX_DOCUMENT, expected: found("Dale") },
  {
    path: 'friends.#(last=="Murphy")#.first',
    document: SYNTAX_DOCUMENT,
    expected: found("Dale", "Jane"),
  },
  {
    path: 'friends.#(nets.#(=="fb"))#.first',
    document: SYNTAX_DOCUMENT,
    expected: found("Dale", "Roger"),
  },
  {
    path: 'friends.#(last="Murphy")#',
    document: SYNTAX_DOCUMENT,
    expected: found(SYNTAX_DOCUMENT.friends[0], SYNTAX_DOCUMENT.friends[2]),
  },
];

const DEFAULT_PATH_CASES: EvaluationCase[] = [
  {
    path: DEFAULT_IDENTIFIER_PATH,
    document: { "0": { data: { ObjectName: "my-secret" } } },
    expected: found("my-secret"),
  },
  {
    path: DEFAULT_IDENTIFIER_PATH,
    document: [{ data: { ObjectName: "x" } }],
    expected: found("x"),
  },
  {
    path: DEFAULT_IDENTIFIER_PATH,
    document: { "0": { data: { ObjectName: 42 } } },
    expected: found(42),
  },
  { path: DEFAULT_IDENTIFIER_PATH, document: { "0": { data: {} } }, expected: MISSING },
  { path: DEFAULT_IDENTIFIER_PATH, document: [], expected: MISSING },
  { path: DEFAULT_IDENTIFIER_PATH, document: "0", expected: MISSING },
  { path: DEFAULT_IDENTIFIER_PATH, document: null, expected: MISSING },
  {
    path: DEFAULT_IDENTIFIER_PATH,
    document: { "0": { data: { ObjectName: null } } },
    expected: found(null),
  },
];

const EDGE_CASES: EvaluationCase[] = [
  { path: "children.3", document: SYNTAX_DOCUMENT, expected: MISSING },
  { path: "children.first", document: SYNTAX_DOCUMENT, expected: MISSING },
  { path: "name.0", document: SYNTAX_DOCUMENT, expected: MISSING },
  { path: "age.value", document: SYNTAX_DOCUMENT, expected: MISSING },
  { path: "children.01", document: SYNTAX_DOCUMENT, expected: found("Alex") },
  { path: "children.\\1", document: SYNTAX_DOCUMENT, expected: MISSING },
  { path: "\\0", document: { "0": "zero" }, expected: found("zero") },
  { path: "a\\*b", document: { "a*b": 1, axb: 2 }, expected: found(1) },
  { path: "a*b", document: { acb: 1, "a*b": 2 }, expected: found(1) },
  { path: "a\\?", document: { ab: 1, "a?": 2 }, expected: found(2) },
  { path: "a?", document: { aé: 1 }, expected: found(1) },
  { path: "a\\\\b", document: { "a\\b": 1 }, expected: found(1) },
  { path: "\\#", document: { "#": 5 }, expected: found(5) },
  { path: "#", document: { "#": 5 }, expected: found(5) },
  { path: "#", document: [1, 2], expected: found(2) },
  { path: "#", document: "text", expected: MISSING },
  { path: "#x", document: { "#x": 1 }, expected: found(1) },
  { path: "list.#x", document: { list: [1] }, expected: MISSING },
  { path: "user@host", document: { "user@host": "a" }, expected: found("a") },
  { path: "\\@this", document: { "@this": "a" }, expected: found("a") },
  { path: "*.y", document: { a: { x: 1 }, b: { y: 2 } }, expected: found(2) },
  { path: "*.y", document: { a: 1, b: { y: 2 } }, expected: found(2) },
  { path: "*", document: { a: 1, b: 2 }, expected: found(1) },
  { path: "*", document: {}, expected: MISSING },
  { path: "list.*", document: { list: [1] }, expected: MISSING },
  { path: "list.#.id", document: { list: [] }, expected: MISSING },
  {
    path: "list.#.id",
    document: { list: [{ id: "a" }, {}, { id: "b" }] },
    expected: found("a", "b"),
  },
  {
    path: "list.#.ids.#.name",
    document: { list: [{ ids: [{ name: "a" }] }, { ids: [{ name: "b" }, { name: "c" }] }] },
    expected: found(["a"], ["b", "c"]),
  },
  { path: "list.#.id", document: { list: { "#": { id: "a" } } }, expected: found("a") },
  { path: 'friends.#(last=="Nobody").first', document: SYNTAX_DOCUMENT, expected: MISSING },
  { path: 'friends.#(last=="Nobody")#.first', document: SYNTAX_DOCUMENT, expected: MISSING },
  { path: "friends.#(age==44).first", document: SYNTAX_DOCUMENT, expected: found("Dale") },
  { path: 'friends.#(age=="68").first', document: SYNTAX_DOCUMENT, expected: found("Roger") },
  { path: "friends.#(first).last", document: SYNTAX_DOCUMENT, expected: found("Murphy") },
  { path: "friends.#(missing).last", document: SYNTAX_DOCUMENT, expected: MISSING },
  {
    path: 'friends.#( last == "Craig" ).first',
    document: SYNTAX_DOCUMENT,
    expected: found("Roger"),
  },
  { path: 'children.#(=="Alex")', document: SYNTAX_DOCUMENT, expected: found("Alex") },
  { path: 'children.#(=="alex")', document: SYNTAX_DOCUMENT, expected: MISSING },
  { path: 'name.#(first=="Tom")', document: SYNTAX_DOCUMENT, expected: MISSING },
  {
    path: 'friends.#(last=="Murphy").nets.1',
    document: SYNTAX_DOCUMENT,
    expected: found("fb"),
  },
  {
    path: 'friends.#(last=="Murphy").missing',
    document: SYNTAX_DOCUMENT,
    expected: MISSING,
  },
  {
    path: 'items.#(kind=="secret")#.name',
    document: {
      items: [{ kind: "secret", name: "a" }, { kind: "secret" }, { kind: "x", name: "b" }],
    },
    expected: found("a"),
  },
  {
    path: "flags.#(on==true).id",
    document: {
      flags: [
        { on: false, id: 1 },
        { on: true, id: 2 },
      ],
    },
    expected: found(2),
  },
  {
    path: 'flags.#(on=="false").id',
    document: { flags: [{ on: false, id: 1 }] },
    expected: found(1),
  },
  { path: "flags.#(on==null).id", document: { flags: [{ on: null, id: 1 }] }, expected: MISSING },
  { path: "flags.#(on).id", document: { flags: [{ on: null, id: 1 }] }, expected: found(1) },
  { path: "nums.#(==abc)", document: { nums: [5, 0] }, expected: found(0) },
  { path: 'names.#(=="a\\"b")', document: { names: ["x", 'a"b'] }, expected: found('a"b') },
  { path: "names.#(==a b)", document: { names: ["a b"] }, expected: found("a b") },
  { path: "__proto__", document: {}, expected: MISSING },
  { path: "constructor", document: {}, expected: MISSING },
  { path: "length", document: [1, 2], expected: MISSING },
];

describe("compileIdentifierPath evaluation", () => {
  const groups = [
    ["gjson SYNTAX.md examples", SYNTAX_CASES],
    ["default path", DEFAULT_PATH_CASES],
    ["edge cases", EDGE_CASES],
  ] as const;
  for (const [group, cases] of groups) {
    for (const { path, document, expected } of cases) {
      test(`${group}: ${path} on ${JSON.stringify(document).slice(0, 60)}`, () => {
        assert.deepEqual(compileIdentifierPath(path).evaluate(document), expected);
      });
    }
  }
});

describe("compileIdentifierPath multiple flag", () => {
  const cases: [string, boolean][] = [
    ["0.data.ObjectName", false],
    ["friends.#", false],
    ["friends.#.age", true],
    ['friends.#(last=="Murphy").first', false],
    ['friends.#(last=="Murphy")#', true],
    ['friends.#(last=="Murphy")#.first', true],
    ['friends.#(last=="Murphy").nets.#.x', true],
  ];
  for (const [path, expected] of cases) {
    test(`multiple of ${path}`, () => {
      assert.equal(compileIdentifierPath(path).multiple, expected);
    });
  }
});

describe("compileIdentifierPath rejection", () => {
  const cases: [path: string, reasonPart: string][] = [
    ["", "empty"],
    [".a", "empty key"],
    ["a.", "ends with '.'"],
    ["a..b", "empty key"],
    ["..0.a", "JSON Lines"],
    ["a\\", "ends with '\\'"],
    ["children|0", "pipes"],
    ["friends.#|0", "pipes"],
    ["children.@reverse", "modifiers"],
    ["@this", "modifiers"],
    ["[name.first,age]", "multipaths"],
    ["{name.first}", "multipaths"],
    ["a.[b]", "multipaths"],
    ["!true", "literals"],
    ['friends.#(last!="Murphy").first', "'!='"],
    ["friends.#(age>45).first", "'>'"],
    ["friends.#(age>=45).first", "'>='"],
    ["friends.#(age<45).first", "'<'"],
    ['friends.#(first%"D*").last', "'%'"],
    ['friends.#(first!%"D*").last', "'!%'"],
    ["friends.#(on==~true)", "truthy"],
    ['friends.#(last=="Murphy"', "not closed"],
    ['friends.#(last=="Murphy")x', "unexpected 'x'"],
    ['friends.#(last=="Murphy")##', "unexpected '#'"],
    ["friends.#()", "no condition"],
    ['friends.#[last=="Murphy"]', "old query syntax"],
    ['friends.#(last=="\\q")', "not a valid JSON string"],
    ['friends.#(a|b=="x")', "pipes"],
  ];
  for (const [path, reasonPart] of cases) {
    test(`rejects ${JSON.stringify(path)}`, () => {
      assert.throws(
        () => compileIdentifierPath(path),
        (error: unknown) => {
          assert.ok(error instanceof IdentifierPathError, `expected IdentifierPathError`);
          assert.equal(error.code, ErrorCode.IdentifierPathInvalid);
          assert.equal(error.identifierPath, path);
          assert.ok(
            error.message.includes(reasonPart),
            `message ${JSON.stringify(error.message)} lacks ${JSON.stringify(reasonPart)}`,
          );
          return true;
        },
      );
    });
  }
});

describe("compileIdentifierPath reuse", () => {
  test("compiled path evaluates many documents", () => {
    const path = compileIdentifierPath("0.data.ObjectName");
    const names = ["a", "b", "c"].map((name) => path.evaluate([{ data: { ObjectName: name } }]));
    assert.deepEqual(names, [found("a"), found("b"), found("c")]);
  });

  test("source keeps the path text", () => {
    assert.equal(compileIdentifierPath("fav\\.movie").source, "fav\\.movie");
  });
});

describe("compileIdentifierPath wildcards on long keys", () => {
  // A backtracking matcher needs about n^3 steps for this pattern on a key of n "a"s, which
  // is hours for 100000; the 10 s timeout fails the test then.
  test("several stars stay linear", { timeout: 10_000 }, () => {
    const key = "a".repeat(100_000);
    const path = compileIdentifierPath("data.*a*a*b");
    assert.deepEqual(path.evaluate({ data: { [key]: "x" } }), { kind: "missing" });
    assert.deepEqual(path.evaluate({ data: { [`${key}b`]: "found" } }), found("found"));
  });
});
