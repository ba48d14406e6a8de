"""The leads CRM: institutions (leads), their contacts, contact details and versioned notes."""
