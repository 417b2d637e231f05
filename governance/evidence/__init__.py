"""Evidence for auditors: the questions they ask, the control mapping and the signed pack."""
