// Loaded without defer at the top of <head> (the CSP allows no inline script): styles keyed on .js apply before
// the first paint.
document.documentElement.classList.replace("no-js", "js");
