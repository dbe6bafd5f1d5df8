"""Web service for automl (Flask app factory, blueprints); see DESIGN.md section 4b."""
