/*
 * The Secure Messenger widget's script (demo SP). It takes the token message
 * only from the embedding window (window.parent), from the origin of the page
 * URL the installation code gave, and only of the type
 * 'comm100:secure-messenger:token'; then asks the messenger who the token names.
 */
(function () {
  'use strict';
  var root = document.getElementById('messenger');
  if (!root || window.parent === window) return;
  var pageUrl = root.dataset.pageUrl;
  var pageOrigin;
  try {
    pageOrigin = new URL(pageUrl).origin;
  } catch (e) {
    return;
  }
  var q = function (id) { return root.querySelector('[data-testid="' + id + '"]'); };
  var done = false;
  function refuse(text) {
    q('messenger-waiting').hidden = true;
    q('messenger-identified').hidden = true;
    var p = q('messenger-refusal');
    p.textContent = text;
    p.hidden = false;
  }
  function show(answer) {
    q('messenger-waiting').hidden = true;
    q('messenger-customer').textContent = answer.identity;
    q('messenger-via').textContent = answer.via === 'comm100Jwt' ? 'Comm100 JWT' : 'Contact JWT';
    var dl = q('messenger-details');
    Object.keys(answer.details).forEach(function (k) {
      var dt = document.createElement('dt');
      dt.textContent = k;
      var dd = document.createElement('dd');
      dd.textContent = String(answer.details[k]);
      dd.setAttribute('data-claim', k);
      dl.appendChild(dt);
      dl.appendChild(dd);
    });
    q('messenger-identified').hidden = false;
  }
  window.addEventListener('message', function (event) {
    if (event.source !== window.parent || event.origin !== pageOrigin) return;
    var msg = event.data;
    if (!msg || typeof msg !== 'object' || msg.type !== 'comm100:secure-messenger:token' || done) return;
    done = true;
    var body = { siteId: root.dataset.siteId, messengerId: root.dataset.messengerId, pageUrl: pageUrl };
    if (typeof msg.comm100Jwt === 'string' && msg.comm100Jwt) body.comm100Jwt = msg.comm100Jwt;
    else body.contactJwt = typeof msg.contactJwt === 'string' ? msg.contactJwt : '';
    fetch('/securemessage/widget/identify', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), credentials: 'omit' })
      .then(function (res) { return res.json(); })
      .then(function (answer) {
        if (answer && answer.identified) show(answer);
        else refuse('The messenger could not identify you: ' + (answer && answer.message ? answer.message : 'no answer') + '.');
      })
      .catch(function () { refuse('The messenger could not be reached.'); });
  });
})();
