"""The signed evidence pack of a system and period: the ZIP itself (`archive`), its period,
sections, formats, audit segment, answers, and the page, API and service that export it.

Other apps contribute sections, documents and charts through `sections`; governance's own
sections are in `governance`. Import the modules themselves: this package re-exports nothing.
"""
