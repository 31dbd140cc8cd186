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
