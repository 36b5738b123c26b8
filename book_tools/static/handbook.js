/* Site-wide fixes, loaded on every page (book_tools/handbook_ext.py).
 *
 * Phones: pydata-sphinx-theme 0.17 opens the navigation drawers from the first
 * .primary-toggle / .secondary-toggle button it finds, which is the navbar's; sphinx-book-theme
 * 1.3 hides that navbar and shows its own buttons in the article header, which therefore did
 * nothing and left the table of contents unreachable on a narrow screen. Forward their
 * clicks to the buttons the theme listens to.
 */
document.addEventListener("DOMContentLoaded", function () {
  ["primary-toggle", "secondary-toggle"].forEach(function (name) {
    var buttons = document.querySelectorAll("." + name);
    var wired = buttons[0];
    for (var i = 1; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function (e) {
        e.preventDefault();
        e.stopPropagation();
        wired.click();
      });
    }
  });
});
