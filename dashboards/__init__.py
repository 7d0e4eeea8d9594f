"""The web pages (Streamlit). Page scripts live in ``views/`` and are run, never imported."""

# Where the pages declare their UI messages (``data_products.i18n``): the shared modules' ``MESSAGES``, and
# each page script's, read from its text (a page is run by Streamlit, never imported).
MESSAGE_SOURCES = (
    "dashboards.headline",
    "dashboards.navigation",
    "dashboards.ui",
    "views/analyses.py",
    "views/analysis_review.py",
    "views/audit.py",
    "views/catalog.py",
    "views/elderly_weight.py",
    "views/my_hospital.py",
    "views/pneumonia.py",
    "views/scenarios.py",
    "views/tumor.py",
    "views/wait_board.py",
    "views/wait_times.py",
)
