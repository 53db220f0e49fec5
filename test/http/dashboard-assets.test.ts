import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dashboardAssets } from '../../src/http/dashboard.js';

const NAMES = ['index.html', 'app.js', 'app.css'] as const;
const source = (name: string) => readFileSync(new URL(`../../src/http/dashboard/${name}`, import.meta.url), 'utf8');

describe('dashboardAssets()', () => {
  it('returns the files of src/http/dashboard/ exactly (the generated module is up to date)', () => {
    const assets = dashboardAssets();
    expect(Object.keys(assets).sort()).toEqual([...NAMES].sort());
    for (const name of NAMES) expect(assets[name], name).toBe(source(name));
    // The same check the build script offers, so a stale module also fails outside this test.
    expect(() => execFileSync(process.execPath, ['scripts/build-dashboard.mjs', '--check'], { stdio: 'pipe' })).not.toThrow();
  });

  it("runs under CSP script-src 'self'; style-src 'self': no inline script, style or handler in the page", () => {
    const html = dashboardAssets()['index.html'];
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.map((m) => m[1].trim())).toEqual(['src="dashboard/app.js" defer']);
    expect(scripts.every((m) => m[2].trim() === '')).toBe(true);
    expect(html).not.toMatch(/<style\b/i);
    expect(html).not.toMatch(/\sstyle\s*=/i);
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);
    expect(html).not.toMatch(/javascript:/i);
    expect([...html.matchAll(/<link\b[^>]*href="([^"]+)"/g)].map((m) => m[1])).toEqual(['dashboard/app.css']);
  });

  it('the script builds its DOM without HTML strings or eval (no innerHTML, so names and ids cannot inject markup)', () => {
    const js = dashboardAssets()['app.js'];
    expect(js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(/);
    // It only calls the API relative to the mount point and sends the CSRF header on every non-GET call.
    expect(js).not.toMatch(/fetch\(\s*['"`]\//);
    expect(js).toContain("init.headers['X-CSRF-Token'] = state.csrf");
  });

  it('every form control in the page has a label', () => {
    const html = dashboardAssets()['index.html'];
    const ids = [...html.matchAll(/<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"/g)].map((m) => m[1]);
    expect(ids.length).toBeGreaterThan(4);
    for (const id of ids) expect(html, id).toContain(`<label for="${id}"`);
  });
});
