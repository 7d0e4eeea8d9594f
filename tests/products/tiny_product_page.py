"""The page of the product ``tests/test_product_definition.py`` defines (Streamlit runs it from the
navigation that definition produces). It finds its view through the registry, like any page could."""

import streamlit as st

from dashboards.ui import lang, product_grant
from data_products.products.registry import product

lng = lang()
grant = product_grant("tiny_counts", lng)
st.title("Tiny counts")
st.dataframe(product("tiny_counts").views.counts(grant), key="tiny_counts")
