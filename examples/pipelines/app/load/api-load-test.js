// Seed 000's API load test: ramp to 100 virtual users, p(95) under 2 s, errors under 1%.
import http from 'k6/http';
import { check, sleep } from 'k6';

export const options = {
  stages: [
    { duration: '30s', target: 100 },
    { duration: '1m', target: 100 },
    { duration: '30s', target: 0 },
  ],
  thresholds: {
    http_req_duration: ['p(95)<2000'],
    http_req_failed: ['rate<0.01'],
  },
};

export default function () {
  const res = http.get(`${__ENV.TARGET || 'http://127.0.0.1:8080'}/health`);
  check(res, { 'status is 200': (r) => r.status === 200 });
  sleep(1);
}
