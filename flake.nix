# The ccci CI host. `ccci-gen` renders modules-gen/ from the registry
# (ccci.toml, recipes/); this flake builds the ccci package and the host.
#
#   ccci-gen && nixos-rebuild switch --flake .#cc-ci
{
  description = "ccci: CI for Co-op Cloud recipes, one NixOS host rendered from a registry";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";
    sops-nix = {
      url = "github:Mic92/sops-nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs = { self, nixpkgs, sops-nix, ... }:
    let
      system = "x86_64-linux";
      pkgs = import nixpkgs {
        inherit system;
        overlays = [ self.overlays.default ];
      };
    in
    {
      # Both binaries, ccci-gen and ccci, from Cargo.lock.
      packages.${system} = {
        ccci = pkgs.ccci;
        default = pkgs.ccci;
      };

      overlays.default = final: prev: {
        ccci = final.rustPlatform.buildRustPackage {
          pname = "ccci";
          version = (builtins.fromTOML (builtins.readFile ./Cargo.toml)).package.version;
          src = final.lib.cleanSource ./.;
          cargoLock.lockFile = ./Cargo.lock;
          # The test suite needs docker, git and nix-instantiate; it runs in CI
          # (scripts/test), not in the sandbox.
          doCheck = false;
          meta.mainProgram = "ccci";
        };
      };

      # The generated modules, with the overlay that provides pkgs.ccci.
      nixosModules.default = {
        imports = [ ./modules-gen sops-nix.nixosModules.sops ];
        nixpkgs.overlays = [ self.overlays.default ];
      };

      nixosConfigurations.cc-ci = nixpkgs.lib.nixosSystem {
        inherit system;
        modules = [
          self.nixosModules.default
          ./hosts/cc-ci/configuration.nix
        ];
      };

      devShells.${system}.default = pkgs.mkShell {
        inputsFrom = [ pkgs.ccci ];
        packages = with pkgs; [ cargo rustc clippy rustfmt cargo-nextest git nix sops age ssh-to-age ];
      };

      # The committed modules-gen/, runners/ and .drone.yml match the registry.
      checks.${system}.generated-files-fresh = pkgs.runCommand "ccci-generated-files-fresh" { } ''
        cd ${self}
        ${pkgs.ccci}/bin/ccci-gen --check
        touch $out
      '';
    };
}
