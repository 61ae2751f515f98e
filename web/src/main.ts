// The app's composition root. The chat UI arrives with the web-app issue; until then the page says what it is.
const root = document.getElementById('app');
if (root) root.textContent = 'SIMPLE chat — the app is under construction.';
