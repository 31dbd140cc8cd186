/*
 * The Secure Messenger installation code's script (served by the demo SP at
 * /securemessage/install.js). It reads its own data attributes, puts the widget
 * in an iframe in #comm100-secure-messenger, and once the widget has loaded
 * posts it the Contact JWT (or the Comm100 JWT), to the messenger's origin only.
 */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || !script.src) return;
  var src = new URL(script.src);
  var spOrigin = src.origin;
  var base = spOrigin + src.pathname.replace(/\/securemessage\/install\.js$/, '');
  var data = script.dataset;
  var host = document.getElementById('comm100-secure-messenger');
  if (!host) {
    host = document.createElement('div');
    host.id = 'comm100-secure-messenger';
    script.parentNode.insertBefore(host, script.nextSibling);
  }
  var iframe = document.createElement('iframe');
  iframe.title = 'Secure Messenger';
  iframe.className = 'secure-messenger-frame';
  iframe.src =
    base +
    '/securemessage/widget?siteId=' + encodeURIComponent(data.siteId || '') +
    '&messengerId=' + encodeURIComponent(data.messengerId || '') +
    '&pageUrl=' + encodeURIComponent(location.href);
  iframe.addEventListener('load', function () {
    var message = { type: 'comm100:secure-messenger:token' };
    if (data.comm100Jwt) message.comm100Jwt = data.comm100Jwt;
    else message.contactJwt = data.contactJwt || '';
    iframe.contentWindow.postMessage(message, spOrigin);
  });
  host.appendChild(iframe);
})();
