"""The remediation pipeline (collect → classify → featurize → predict → search → queue → apply).
Builds on core/; never imports console/, screens/ or textual."""
