"""The htmx pages of releases: the release pages (release_pages, with what the release page
shows in release_page), the release page's actions (release_actions) and a system's
environments (environments)."""
