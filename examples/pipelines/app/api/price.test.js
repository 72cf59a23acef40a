const test = require('node:test');
const assert = require('node:assert');
const { withTax } = require('./price.js');

test('adds tax and rounds half a cent up', () => {
  assert.strictEqual(withTax(1000, 20), 1200);
  assert.strictEqual(withTax(5, 10), 6);
});
