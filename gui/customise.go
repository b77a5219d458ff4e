package gui

// customiseView is the Flash section's Customise panel (customise.go).
type customiseView struct{}
