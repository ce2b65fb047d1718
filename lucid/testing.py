"""Testing helpers: ``gradcheck`` compares autograd with central finite differences."""
