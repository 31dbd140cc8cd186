// "Copy as curl" on the review page: copies the text of the element named by data-copy-target.
// Without clipboard access, the text is selected so that the user can copy it.
document.querySelectorAll('[data-copy-target]').forEach((button) => {
  button.addEventListener('click', async () => {
    const target = document.getElementById(button.getAttribute('data-copy-target'));
    const status = document.querySelector('[data-copy-status]');
    if (!target) return;
    try {
      await navigator.clipboard.writeText(target.textContent);
      if (status) status.textContent = 'Copied.';
    } catch {
      const range = document.createRange();
      range.selectNodeContents(target);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      if (status) status.textContent = 'Selected: press Ctrl+C (Cmd+C) to copy.';
    }
  });
});

// The clock-skew seconds field: shown only while clock-skew is the chosen fault (without script it stays visible).
document.querySelectorAll('select[name="fault"]').forEach((select) => {
  const form = select.closest('form');
  const extras = form ? form.querySelectorAll('[data-shown-for-fault]') : [];
  const update = () => {
    extras.forEach((el) => {
      el.hidden = el.getAttribute('data-shown-for-fault') !== select.value;
    });
  };
  select.addEventListener('change', update);
  update();
});
