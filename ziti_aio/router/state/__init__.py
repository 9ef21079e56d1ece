"""What a router keeps of the controller's model: the router model it authorizes dials and binds from."""
