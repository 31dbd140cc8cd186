// Submits the token form at once; the button stays for browsers without JavaScript.
document.querySelectorAll('form[data-auto-submit]').forEach((form) => form.submit());
