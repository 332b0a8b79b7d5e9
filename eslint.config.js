// ESLint (flat config) for the page scripts in assets/ and their tests in tests/js/.
// `npm run lint` (make jslint). The page scripts are plain browser scripts, not modules:
// each is an IIFE or object merged into window.pingan, loaded by Dash in alphabetical order.
"use strict";

const js = require("@eslint/js");
const globals = require("globals");

const rules = {
  "no-unused-vars": ["error", { args: "after-used", argsIgnorePattern: "^_", varsIgnorePattern: "^_",
    caughtErrors: "none" }],
  eqeqeq: ["error", "always"],
  "no-var": "error",
  "prefer-const": "error",
  "no-shadow": "error",  // a local named like an outer helper (clock, url) hides it for the rest of the function
  "no-eval": "error",
  "no-implied-eval": "error",
  "no-new-func": "error",
  "no-throw-literal": "error",
};

module.exports = [
  { ignores: ["node_modules/", ".venv/", "var/"] },
  js.configs.recommended,
  {
    files: ["assets/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "script",
      globals: { ...globals.browser, L: "readonly" },
    },
    // Scripts share the page's global scope: nothing may leak into it but window.pingan.
    rules: { ...rules, "no-implicit-globals": "error" },
  },
  {
    files: ["tests/js/**/*.js", "eslint.config.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "commonjs",
      globals: { ...globals.node },
    },
    rules: rules,
  },
];
