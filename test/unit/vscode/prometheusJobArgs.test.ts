import * as assert from 'node:assert/strict';
import { checkPrometheusUrl, JOB_WINDOWS, jobCliArgs, jobRequestOf, savedRunId } from '../../../src/vscode/prometheusJobArgs';
import { parseTime } from '../../../src/cli/commands/promJob';

describe('"Joules: Show Prometheus Job" arguments', () => {
  it('runs the bundled CLI\'s `job` with the request', () => {
    assert.deepEqual(jobCliArgs('/ext/dist/cli.js', { url: 'http://p:9090', selector: '{job="x"}', from: '-1h' }), ['/ext/dist/cli.js', 'job', '--prometheus', 'http://p:9090', '--selector', '{job="x"}', '--from', '-1h']);
    assert.deepEqual(jobCliArgs('c', { url: 'u', selector: 's', from: '100', to: '200' }).slice(-4), ['--from', '100', '--to', '200']);
    // Kept in the editor's history, to open in the panel.
    assert.deepEqual(jobCliArgs('c', { url: 'u', selector: 's', from: '-1h' }, '/h/runs').slice(-3), ['--save', '--store', '/h/runs']);
    assert.equal(savedRunId('joules job: saved as run 20261208-1200-job-ab12 (joules report 20261208-1200-job-ab12)\n'), '20261208-1200-job-ab12');
    assert.equal(savedRunId('joules job: no GPU series match'), undefined);
  });

  it('takes a request passed to the command, defaulting to the last hour; anything else means ask', () => {
    assert.deepEqual(jobRequestOf({ url: 'http://p:9090', selector: '{job="x"}' }), { url: 'http://p:9090', selector: '{job="x"}', from: '-1h' });
    assert.deepEqual(jobRequestOf({ url: 'u', selector: 's', from: '1', to: '2' }), { url: 'u', selector: 's', from: '1', to: '2' });
    assert.equal(jobRequestOf(undefined), undefined);
    assert.equal(jobRequestOf({ url: 'u' }), undefined);
  });

  it('every window offered is one `joules job --from` accepts', () => {
    for (const w of JOB_WINDOWS) assert.equal(parseTime(w.from, 1_000_000, '--from') < 1_000_000, true, w.label);
  });

  it('checks the URL before anything runs', () => {
    assert.equal(checkPrometheusUrl('http://prometheus:9090'), undefined);
    assert.equal(checkPrometheusUrl(' https://p.example/prom '), undefined);
    assert.match(checkPrometheusUrl('prometheus:9090') ?? '', /http/);
    assert.match(checkPrometheusUrl('nope') ?? '', /a URL/);
  });
});
