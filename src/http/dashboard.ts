/**
 * STUB until the dashboard lands (src/http/dashboard/*): the same signature, a minimal valid page without inline
 * script or style, so the router's wiring and headers can be served and tested.
 */
export function dashboardAssets(): { 'index.html': string; 'app.js': string; 'app.css': string } {
  return {
    'index.html':
      '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Privacy requests</title>\n<link rel="stylesheet" href="dashboard/app.css">\n<script src="dashboard/app.js" defer></script>\n</head>\n<body>\n<main><h1>Privacy requests</h1></main>\n</body>\n</html>\n',
    'app.js': "'use strict';\n",
    'app.css': 'body { font-family: system-ui, sans-serif; }\n',
  };
}
