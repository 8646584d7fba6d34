// Licence: Apache-2.0, as the rest of the engine.
/* Run form: checks JSON fields as they are typed and shows the browser's own checks beside
 * each field; the server checks everything again. */
(function () {
  'use strict';
  var form = document.getElementById('run-form');
  if (!form) { return; }
  function errorSpan(field) {
    var spans = form.querySelectorAll('.field-error');
    for (var i = 0; i < spans.length; i++) {
      if (spans[i].getAttribute('data-for') === field.name) { return spans[i]; }
    }
    return null;
  }
  function checkJson(field) {
    var text = field.value.trim();
    var message = '';
    if (text) {
      try { JSON.parse(text); } catch (err) { message = 'not valid JSON: ' + err.message; }
    }
    field.setCustomValidity(message);
  }
  function show(field) {
    var span = errorSpan(field);
    if (span) { span.textContent = field.validationMessage; }
    field.closest('.field').classList.toggle('invalid', !field.validity.valid);
  }
  form.querySelectorAll('input, select, textarea').forEach(function (field) {
    if (!field.name || field.name.indexOf('in.') !== 0) { return; }
    field.addEventListener('input', function () {
      if (field.getAttribute('data-json') === 'true') { checkJson(field); }
      show(field);
    });
    field.addEventListener('invalid', function () { show(field); });
    if (field.getAttribute('data-json') === 'true') { checkJson(field); }
  });
}());
