"""The Streamlit front end. Start it with ``streamlit run dashboard/Home.py``."""
