// HTTP bodies of the cart service.
export {};
