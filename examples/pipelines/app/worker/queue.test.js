const test = require('node:test');
const assert = require('node:assert');
const { Queue } = require('./queue.js');

test('retries a job until its budget is spent', () => {
  const q = new Queue(2);
  q.push('transcode');
  const item = q.next();
  assert.strictEqual(q.retry(item), true);
  assert.strictEqual(q.retry(q.next()), false);
});
