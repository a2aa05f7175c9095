// /exit, quick exit's last stop: the response carried Clear-Site-Data; now leave for the
// neutral site without a Back entry. Inside the iframe the host page leaves instead.
const url = document.body.getAttribute("data-exit-url");
if (window.top === window && url) location.replace(url);
