"""Entity instance ids: ``@name@key``, the name lower-cased."""

from __future__ import annotations


class EntityInstanceId:
    """Identifies one entity: its (lower-cased) name and its key."""

    def __init__(self, entity: str, key: str):
        EntityInstanceId.validate_entity_name(entity)
        EntityInstanceId.validate_key(key)
        self.entity = entity.lower()
        self.key = key

    def __str__(self) -> str:
        return f"@{self.entity}@{self.key}"

    def __repr__(self) -> str:
        return f"EntityInstanceId(entity={self.entity!r}, key={self.key!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EntityInstanceId) and (self.entity, self.key) == (other.entity, other.key)

    def __hash__(self) -> int:
        return hash((self.entity, self.key))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, EntityInstanceId):
            return NotImplemented
        return str(self) < str(other)

    @staticmethod
    def parse(entity_id: str) -> EntityInstanceId:
        """Parse ``@name@key``; raises ValueError for anything else."""
        if not entity_id.startswith("@"):
            raise ValueError("Entity ID must start with '@'.")
        parts = entity_id.split("@", 2)
        if len(parts) != 3:
            raise ValueError(f"Invalid entity ID format: {entity_id}")
        return EntityInstanceId(entity=parts[1], key=parts[2])

    @staticmethod
    def validate_entity_name(name: str) -> None:
        """Raise ValueError for an empty name or one containing '@'."""
        if not name:
            raise ValueError("Entity name cannot be empty.")
        if "@" in name:
            raise ValueError("Entity name cannot contain '@' symbol.")

    @staticmethod
    def validate_key(key: str) -> None:
        """Raise ValueError for an empty key or one containing '@'."""
        if not key:
            raise ValueError("Entity key cannot be empty.")
        if "@" in key:
            raise ValueError("Entity key cannot contain '@' symbol.")
