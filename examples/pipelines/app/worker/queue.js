// A first-in, first-out queue of media jobs with a retry budget per job.
class Queue {
  constructor(maxAttempts) { this.items = []; this.maxAttempts = maxAttempts; }
  push(job) { this.items.push({ job, attempts: 0 }); }
  next() { return this.items.shift(); }
  retry(item) {
    item.attempts += 1;
    if (item.attempts < this.maxAttempts) { this.items.push(item); return true; }
    return false;
  }
}

module.exports = { Queue };
