"""The web pages (Streamlit). Page scripts live in ``views/`` and are run, never imported."""

# Where the pages' shared modules declare their UI messages (``data_products.i18n``); a page script
# registers its own as it runs.
MESSAGE_SOURCES = (
    "dashboards.headline",
    "dashboards.navigation",
    "dashboards.ui",
)
