"""The operator bot's features, one aiogram router each (the admin gate runs before all of them)."""
