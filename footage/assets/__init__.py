"""Assets kept with recordings: the stylesheets, images and fonts a page used, stored by content."""
