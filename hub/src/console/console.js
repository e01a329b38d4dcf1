// Progressive enhancement only: every page works without it. Forms marked data-confirm ask
// first; a page with a running sync refreshes itself every few seconds.
document.addEventListener('submit', (e) => {
  const msg = e.target.getAttribute('data-confirm');
  if (msg && !window.confirm(msg)) e.preventDefault();
});
if (document.querySelector('[data-running]')) {
  setTimeout(() => window.location.reload(), 3000);
}
