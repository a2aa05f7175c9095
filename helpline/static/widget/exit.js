var t=document.body.getAttribute("data-exit-url");window.top===window&&t&&location.replace(t);
